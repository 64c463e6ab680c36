"""The one evaluator: binary codes and labels to mAP@K and the other usual metrics."""
