"""What comes out of a grading: the JSON report and table, Gradescope/Classroom/JUnit/Markdown, the feedback page's figures.
"""
