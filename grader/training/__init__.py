"""The grader's training: a declared model becomes a trusted accuracy.

Settings and model-file vetting, the trainer and its process, the work-counted budget's use, the checks model exercises share.
"""
