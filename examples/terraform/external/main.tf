# The Terraform external data source: jobwait reads the query (strings only) on stdin and
# prints the flat map of strings; a failed wait fails the plan/apply with the reason, unless
# fail_on = "never". Credentials come from the environment Terraform runs in
# (HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK or JOBWAIT_TOKEN).
terraform {
  required_providers {
    external = { source = "hashicorp/external", version = ">= 2.3" }
  }
}

variable "job_ids" {
  description = "Job ids returned by the asynchronous calls, as [SERVICE:]JOB_ID."
  type        = list(string)
}

variable "project_id" { type = string }
variable "region" { default = "eu-de" }

data "external" "jobs" {
  program = ["jobwait", "terraform"]
  query = {
    cloud      = "otc"
    region     = var.region
    project_id = var.project_id
    jobs       = join(",", var.job_ids)
    timeout    = "20m"
    # nested keys are joined with "__", as in JOBWAIT_* variables
    success__sub_jobs = "all"
  }
}

output "server_ids" {
  value = compact(split(",", data.external.jobs.result.server_ids))
}

output "report" {
  value = jsondecode(data.external.jobs.result.report)
}
