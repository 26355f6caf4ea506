"""Image builds: the Dockerfile front end (`dockerfile/`), the build context (`context`,
`ignore`), the step cache (`cache`) and the steps that run and copy (`steps`)."""
