"""FunBaT: functional Bayesian Tucker decomposition for continuous-indexed tensors."""
from .model import FunBaT
from .sde import MaternSDE

__all__ = ["FunBaT", "MaternSDE"]
