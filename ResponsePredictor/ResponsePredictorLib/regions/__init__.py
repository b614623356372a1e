"""Where a case's features are taken besides the tumor on its own scan: the tumor carried onto another
scan's grid, and the tissue around it (peritumoral shells, for CT optionally within the body)."""

from .body import body_mask
from .carry import carry_mask
from .peritumoral import peritumoral_shell, shell_reaches_outside

__all__ = ["body_mask", "carry_mask", "peritumoral_shell", "shell_reaches_outside"]
