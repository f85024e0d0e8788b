"""The grader's training: a declared model becomes a trusted accuracy.

The declared settings checked, the model file vetted, the trainer and its process, what a submission declares as the grader reads it, the checks model exercises share, the accuracy check's measures and messages.
"""
