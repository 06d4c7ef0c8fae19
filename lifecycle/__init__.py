"""Process lifecycle shared by every long-running program of the project (gateway workers, the worker,
microservices, simulators, make run): stopping within a second of SIGINT or SIGTERM."""
