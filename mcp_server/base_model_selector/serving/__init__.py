"""Step 3 and the work loop: the model-server seam (`Backend`: Ollama, OpenAI-compatible), the concurrent
resumable engine every model-calling step runs on, pulling a model and checking its real facts.
"""
