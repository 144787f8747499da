// LinkcoreSystemd
