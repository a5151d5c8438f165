c = get_config()  # noqa: F821 (traitlets' config loader provides it)

c.CourseDirectory.course_id = "intro-programming"
