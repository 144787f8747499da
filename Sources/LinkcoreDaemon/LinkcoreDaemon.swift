// LinkcoreDaemon
