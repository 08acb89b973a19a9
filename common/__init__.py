"""What every other package of pico4ml-mnist shares: repository paths, the host C build,
the wire protocol, the board's memory budgets and the model manifest.

It imports nothing of the project's other packages (tests/test_layers.py checks that
imports only go downwards: common <- train <- export <- host_twin <- host_gui).
"""
