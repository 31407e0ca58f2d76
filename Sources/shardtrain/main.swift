import ShardTrainCLI

ShardTrainCommand.main()
