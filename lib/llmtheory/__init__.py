"""llmtheory: the library behind *Executable Theories of Large Language Models*."""

__version__ = "0.1.0"
