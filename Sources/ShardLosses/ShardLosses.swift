// The ShardLosses module. See README.md, "Architecture".
