// The ShardEngine module. See README.md, "Architecture".
