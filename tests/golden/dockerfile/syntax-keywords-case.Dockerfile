from alpine AS Base
  run echo lower
	Run echo mixed
   # an indented comment
ENV  A=1
CoPy --chown=1 a /b
