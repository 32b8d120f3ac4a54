"""Training data: UME-R1 records, the synthetic sets, rationale segmentation, the collator and the stage's suffix."""
