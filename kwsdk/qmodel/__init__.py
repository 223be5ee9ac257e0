"""The quantized model: integer references of the generated model kernels
(one module per kernel: act, rnn, dense, softmax) and their composition
(model). Device-safe: numpy only, no torch."""
