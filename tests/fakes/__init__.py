"""Local fakes of outside systems (exchanges, chat services) that real clients talk HTTP to."""
