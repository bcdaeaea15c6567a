"""What runs in the background: the worker's scheduler, job functions, the live push pipeline (watcher to durable
queue to pushes), background runs of the console, and leadership between servers. The top layer: may import
every other sub-package.
"""
