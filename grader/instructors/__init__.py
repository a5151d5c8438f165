"""What instructors make and read: authoring questions, loading courses, the gradebook."""
