// LinkcoreTransport
