/** A larger graph in the shape of an entry-management workflow (all EmptyOperators, wired with chain). */
import { chain, DAG, EmptyOperator } from 'updraft';

export const dag = new DAG({
  dagId: 'example_complex',
  schedule: null,
  startDate: '2021-01-01',
  catchup: false,
  tags: ['example', 'example2', 'example3'],
}).build(() => {
  const e = (taskId: string) => new EmptyOperator({ taskId });
  const createEntryGroup = e('create_entry_group');
  const createEntryGroupResult = e('create_entry_group_result');
  const createEntryGroupResult2 = e('create_entry_group_result2');
  const createEntryEmail = e('create_entry_email');
  const createEntryEmailResult = e('create_entry_email_result');
  const createEntryEmailResult2 = e('create_entry_email_result2');
  const createEntryGcs = e('create_entry_gcs');
  const createEntryGcsResult = e('create_entry_gcs_result');
  const createEntryGcsResult2 = e('create_entry_gcs_result2');
  const createTag = e('create_tag');
  const createTagResult = e('create_tag_result');
  const createTagResult2 = e('create_tag_result2');
  const createTagTemplate = e('create_tag_template');
  const createTagTemplateResult = e('create_tag_template_result');
  const createTagTemplateResult2 = e('create_tag_template_result2');
  const createTagTemplateField = e('create_tag_template_field');
  const createTagTemplateFieldResult = e('create_tag_template_field_result');
  const createTagTemplateFieldResult2 = e('create_tag_template_field_result2');
  const deleteEntry = e('delete_entry');
  const deleteEntryGroup = e('delete_entry_group');
  const deleteTag = e('delete_tag');
  const deleteTagTemplateField = e('delete_tag_template_field');
  const deleteTagTemplate = e('delete_tag_template');
  const getEntryGroup = e('get_entry_group');
  const getEntryGroupResult = e('get_entry_group_result');
  const getEntry = e('get_entry');
  const getEntryResult = e('get_entry_result');
  const getTagTemplate = e('get_tag_template');
  const getTagTemplateResult = e('get_tag_template_result');
  const listTags = e('list_tags');
  const listTagsResult = e('list_tags_result');
  const lookupEntry = e('lookup_entry');
  const lookupEntryResult = e('lookup_entry_result');
  const renameTagTemplateField = e('rename_tag_template_field');
  const searchCatalog = e('search_catalog');
  const searchCatalogResult = e('search_catalog_result');
  const updateEntry = e('update_entry');
  const updateTag = e('update_tag');
  const updateTagTemplate = e('update_tag_template');
  const updateTagTemplateField = e('update_tag_template_field');

  // Create
  const createTasks = [
    createEntryGroup,
    createEntryEmail,
    createEntryGcs,
    createTagTemplate,
    createTagTemplateField,
    createTag,
  ];
  chain(...createTasks);
  createEntryGroup.then(deleteEntryGroup);
  createEntryGroup.then(createEntryGroupResult);
  createEntryGroup.then(createEntryGroupResult2);
  createEntryEmail.then(deleteEntry);
  createEntryEmail.then(createEntryEmailResult);
  createEntryEmail.then(createEntryEmailResult2);
  createEntryGcs.then(deleteEntry);
  createEntryGcs.then(createEntryGcsResult);
  createEntryGcs.then(createEntryGcsResult2);
  createTagTemplate.then(deleteTagTemplateField);
  createTagTemplate.then(createTagTemplateResult);
  createTagTemplate.then(createTagTemplateResult2);
  createTagTemplateField.then(deleteTagTemplateField);
  createTagTemplateField.then(createTagTemplateFieldResult);
  createTagTemplateField.then(createTagTemplateFieldResult2);
  createTag.then(deleteTag);
  createTag.then(createTagResult);
  createTag.then(createTagResult2);
  // Delete
  const deleteTasks = [deleteTag, deleteTagTemplateField, deleteTagTemplate, deleteEntryGroup, deleteEntry];
  chain(...deleteTasks);
  // Get
  createTagTemplate.then(getTagTemplate).then(deleteTagTemplate);
  getTagTemplate.then(getTagTemplateResult);
  createEntryGcs.then(getEntry).then(deleteEntry);
  getEntry.then(getEntryResult);
  createEntryGroup.then(getEntryGroup).then(deleteEntryGroup);
  getEntryGroup.then(getEntryGroupResult);
  // List
  createTag.then(listTags).then(deleteTag);
  listTags.then(listTagsResult);
  // Lookup
  createEntryGcs.then(lookupEntry).then(deleteEntry);
  lookupEntry.then(lookupEntryResult);
  // Rename
  createTagTemplateField.then(renameTagTemplateField).then(deleteTagTemplateField);
  // Search
  chain(createTasks, searchCatalog, deleteTasks);
  searchCatalog.then(searchCatalogResult);
  // Update
  createEntryGcs.then(updateEntry).then(deleteEntry);
  createTag.then(updateTag).then(deleteTag);
  createTagTemplate.then(updateTagTemplate).then(deleteTagTemplate);
  createTagTemplateField.then(updateTagTemplateField).then(renameTagTemplateField);
});
