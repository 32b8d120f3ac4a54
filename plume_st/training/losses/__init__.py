"""The training forward and the losses: PlumeLoss, its GradCache variant and the loss functions they share."""
