"""The recurrent forecaster: network, numpy forward pass, inputs, training, prediction, store."""
