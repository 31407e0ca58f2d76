// The ShardWire module. See README.md, "Architecture".
