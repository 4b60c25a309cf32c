"""Rule-based lead tags: per-tenant rules (brand lists, category, custom-field conditions, thresholds)
evaluated on intake and on demand."""
