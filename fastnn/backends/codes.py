"""Integer codes shared by the Python layer and every backend (kernels branch on these)."""

# activations
LINEAR, SIGMOID, RELU, TANH, SOFTMAX, LEAKY_RELU, ELU, SOFTPLUS, SELU, RELU6, HARD_SIGMOID, EXPONENTIAL = range(12)
GELU, SWISH, MISH = range(12, 15)
FROM_INPUT = GELU  # activations from here on differentiate from their input z (not their output): their
# layer gets a step of its own (layers.Dense), whose input the backward pass hands to activation_backward
LEAKY_SLOPE = 0.2  # Keras 3 leaky_relu negative_slope
ELU_ALPHA = 1.0
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805  # Klambauer et al. 2017, as Keras

# losses
MSE, MAE, HINGE, BCE, CCE, SCCE = range(6)
HUBER, LOG_COSH, POISSON, MAPE, MSLE, SQUARED_HINGE, CATEGORICAL_HINGE, KLD = range(6, 14)
POINTWISE_LOSSES = (HUBER, LOG_COSH, POISSON, MAPE, MSLE, SQUARED_HINGE)  # mean over outputs of f(p, y)

# loss reductions: how a batch's loss sum (and the regularisers' penalty) become the value trained on
REDUCE_BATCH = 0  # Keras 3's "sum over batch size": sum_r w_r l_r / batch + penalty
REDUCE_WEIGHTS = 1  # scikit-learn's MLP: (sum_r w_r l_r + penalty) / sum_r w_r (CPU backend only)

# metrics
ACC_BINARY, ACC_CATEGORICAL, ACC_SPARSE, METRIC_MAE, METRIC_MSE = range(5)
TOP_K, TOP_K_SPARSE, PRECISION, RECALL, AUC = range(5, 10)
M_CODE, M_SLOT, M_ARG = range(3)  # columns of the compiled metrics table: code, first stats slot, argument

# optimizers
SGD, ADAM, RMSPROP, ADAGRAD = range(4)

# kinds of compiled layer steps
DENSE, ACTIVATION, DROPOUT, BATCHNORM = range(4)

# columns of the int plan: one row per compiled layer step
P_KIND, P_IN, P_OUT, P_ACT, P_W, P_B, P_OFF = range(7)
PLAN_INT_COLS = 7
# columns of the float plan
F_L1, F_L2, F_RATE, F_MOMENTUM, F_EPSILON = range(5)  # (a frozen BatchNormalization step: momentum < 0)
PLAN_FLOAT_COLS = 5

# initializers
INIT_ZEROS, INIT_ONES, INIT_UNIFORM, INIT_TRUNC_NORMAL, INIT_NORMAL = range(5)

# indices of the running statistics array a training chunk accumulates into
S_LOSS, S_COUNT, S_METRICS = 0, 1, 2
