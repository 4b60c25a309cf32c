"""Lead intake: normalization and matching of incoming store records against each other and existing POIs."""
