"""Theory helpers for the lemmas of the Lethal Dose Conjecture paper (Sections 4-6)."""
