// The ShardCluster module. See README.md, "Architecture".
