// LinkcoreClient
