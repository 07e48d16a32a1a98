"""Steps 7–8: the pass rate with its Wilson interval, the decision band, failure analysis, the person's
notes, and the decision document.
"""
