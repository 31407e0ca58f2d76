// The ZeroMQ module. See README.md, "Architecture".
