"""optiframe: a pluggable optimizer framework. Gradient descent you can see, extend and trust.

>>> import numpy as np, optiframe as of
>>> r = of.minimize(lambda p: np.sum(p**2), [3.0, 3.0], optimizer=of.GradientDescent(lr=0.1))
>>> r.status, bool(r.fun < 1e-15)
('converged', True)
"""

from .api import minimize
from .bounds import Box
from .checkpoint import Checkpoint, load_checkpoint
from .data import (
    MLP,
    BatchObjective,
    DataObjective,
    LeastSquares,
    LogisticRegression,
    SoftmaxRegression,
)
from .errors import (
    CheckpointError,
    CheckpointReplacedWarning,
    DuplicateComponentError,
    EvaluationError,
    HistoryStreamError,
    InvalidArgumentError,
    InvalidTypeError,
    OptiframeError,
    PluginError,
    PluginLoadWarning,
    RunFailedError,
    UnknownComponentError,
)
from .evaluation import EvaluationStats, ParallelObjective
from .gradcheck import GradientCheck, GradientCheckError, check_gradient
from .gradient_choice import AdaptiveDifference, AutoGradient
from .gradients import (
    AnalyticGradient,
    CentralDifference,
    ForwardDifference,
    GradientEstimator,
    RichardsonDifference,
)
from .history import History
from .hookspecs import hookimpl
from .linesearch import Armijo, LineSearch, StrongWolfe
from .objective import FunctionObjective, Objective
from .observers import EpochInfo, StepInfo
from .optimizers import (
    BFGS,
    LBFGS,
    Adagrad,
    Adam,
    AdamW,
    Chain,
    ClipByGlobalNorm,
    ClipByValue,
    EmptyState,
    GradientDescent,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    Transform,
)
from .plugins import get_plugin_manager, get_registry, register_plugin, unregister_plugin
from .result import GlobalResult, Minimum, MultiStartResult, Result, StartOutcome, Status
from .runner import Runner, RunStart
from .schedules import (
    Constant,
    CosineWarmup,
    ExponentialDecay,
    InverseTimeDecay,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
)
from .scipy_bridge import scipy_method
from .spsa import SPSA
from .starts import LatinHypercube, MultiStart, NormalAround, StartSampler, UniformBox
from .stop_rules import FTarget, RuleView, StopRule
from .stopping import StopRules
from .strategies import MLSL, BasinHopping, Restarts, Strategy, TikTak
from .stream import load_history_stream
from .sweep import SweepTable, Swept, sweep
from .testfunctions import (
    Ackley,
    Himmelblau,
    Rastrigin,
    Rosenbrock,
    Sphere,
    StyblinskiTang,
    TestFunction,
)

__version__ = "0.1.0"

__all__ = [
    "BFGS",
    "LBFGS",
    "MLP",
    "MLSL",
    "SPSA",
    "Ackley",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdaptiveDifference",
    "AnalyticGradient",
    "Armijo",
    "AutoGradient",
    "BasinHopping",
    "BatchObjective",
    "Box",
    "CentralDifference",
    "Chain",
    "Checkpoint",
    "CheckpointError",
    "CheckpointReplacedWarning",
    "ClipByGlobalNorm",
    "ClipByValue",
    "Constant",
    "CosineWarmup",
    "DataObjective",
    "DuplicateComponentError",
    "EmptyState",
    "EpochInfo",
    "EvaluationError",
    "EvaluationStats",
    "ExponentialDecay",
    "FTarget",
    "ForwardDifference",
    "FunctionObjective",
    "GlobalResult",
    "GradientCheck",
    "GradientCheckError",
    "GradientDescent",
    "GradientEstimator",
    "Himmelblau",
    "History",
    "HistoryStreamError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "InverseTimeDecay",
    "LatinHypercube",
    "LeastSquares",
    "LineSearch",
    "LogisticRegression",
    "Minimum",
    "Momentum",
    "MultiStart",
    "MultiStartResult",
    "Nesterov",
    "NormalAround",
    "Objective",
    "OptiframeError",
    "Optimizer",
    "ParallelObjective",
    "PluginError",
    "PluginLoadWarning",
    "RMSprop",
    "Rastrigin",
    "ReduceOnPlateau",
    "Restarts",
    "Result",
    "RichardsonDifference",
    "Rosenbrock",
    "RuleView",
    "RunFailedError",
    "RunStart",
    "Runner",
    "Schedule",
    "SoftmaxRegression",
    "Sphere",
    "StartOutcome",
    "StartSampler",
    "Status",
    "StepDecay",
    "StepInfo",
    "StopRule",
    "StopRules",
    "Strategy",
    "StrongWolfe",
    "StyblinskiTang",
    "SweepTable",
    "Swept",
    "TestFunction",
    "TikTak",
    "Transform",
    "UniformBox",
    "UnknownComponentError",
    "__version__",
    "check_gradient",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "load_checkpoint",
    "load_history_stream",
    "minimize",
    "register_plugin",
    "scipy_method",
    "sweep",
    "unregister_plugin",
]
