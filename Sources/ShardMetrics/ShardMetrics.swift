// The ShardMetrics module. See README.md, "Architecture".
