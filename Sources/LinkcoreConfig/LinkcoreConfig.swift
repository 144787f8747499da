// LinkcoreConfig
