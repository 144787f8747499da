// LinkcorePKI
