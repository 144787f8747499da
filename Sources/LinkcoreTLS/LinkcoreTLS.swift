// LinkcoreTLS
