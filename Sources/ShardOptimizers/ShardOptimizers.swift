// The ShardOptimizers module. See README.md, "Architecture".
