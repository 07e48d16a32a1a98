"""Step 4: the input taxonomy, the stratified scenario plan, generating scenarios with a model, cleaning
their text, and adding scenarios a person wrote.
"""
