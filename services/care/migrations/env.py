from chassis.migrations import run_env
from services.care.models import Base

run_env(Base.metadata)
