// The ShardData module. See README.md, "Architecture".
