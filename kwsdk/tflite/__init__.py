"""TFLite export of the streaming model and the LiteRT / TFLite Micro runners."""
