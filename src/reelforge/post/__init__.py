"""After a backend draws a picture: previz optics and style recipes, the lighting grade, the camera look, the frame."""
