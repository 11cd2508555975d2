# The engine service (`barq serve`), built from this repository.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY simulator ./simulator
COPY dashboards ./dashboards
COPY scenarios ./scenarios
RUN pip install --no-cache-dir .

EXPOSE 8000
CMD ["barq", "serve", "--host", "0.0.0.0", "--port", "8000"]
