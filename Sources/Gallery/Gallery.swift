// Gallery module.
