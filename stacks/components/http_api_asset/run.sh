#!/bin/bash
# Started by the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap): the stepgraph API on
# 127.0.0.1:$PORT; the adapter turns API Gateway's events into HTTP requests and streams the answers.
PATH=$PATH:$LAMBDA_TASK_ROOT/bin \
    PYTHONPATH=$LAMBDA_TASK_ROOT:$PYTHONPATH \
    exec python -m uvicorn --host 127.0.0.1 --port "$PORT" --no-access-log stepgraph.api.aws:app
