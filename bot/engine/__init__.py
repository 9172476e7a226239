"""The flow interpreter: loads flows/, renders a node to text and keyboard, runs actions."""
