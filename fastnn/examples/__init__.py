"""Runnable examples, the tutorials' networks in fastnn: `python -m fastnn.examples.<name> --help`.

house_prices          linear regression on the tutorial's house table (one neuron, gradient descent)
house_classification  softmax over good and bad houses from the same table
gender                the 2-2-1 sigmoid network trained on Alice, Bob, Charlie and Diana
mnist                 784-128 relu-10 softmax on MNIST digits (about 98% test accuracy)
fashion_mnist         the same network on Fashion-MNIST (about 88%)
"""
