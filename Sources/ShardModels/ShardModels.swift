// The ShardModels module. See README.md, "Architecture".
